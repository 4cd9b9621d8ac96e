"""The console's demo: a simulated swarm of agents for `parlour console --demo`.

    from parlour.console.demo import run_swarm
    await run_swarm(hub, seed=1, pace=1.0)     # runs until cancelled (or `stop` is set)

Modules: `swarm` (runs: the vocabulary it publishes, launched runs, stopping), `agent`
(one agent's script), `roster` (the roles and what they say), `services` (the simulated
services). Nothing outside the demo imports these but the console app and its tests.
"""

from __future__ import annotations

from parlour.console.demo.agent import SwarmHub, SwarmQuestion
from parlour.console.demo.roster import AGENT_NAMES, agent_names
from parlour.console.demo.services import SERVICE_IDS
from parlour.console.demo.swarm import run_swarm

__all__ = ["AGENT_NAMES", "SERVICE_IDS", "SwarmHub", "SwarmQuestion", "agent_names", "run_swarm"]
