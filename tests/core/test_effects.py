"""Effects: the values handlers return, checked when they are built.

Targets are bound methods stored by name (with the owner's id when it is mounted), so a
conversation can hold them; anything that cannot be stored is refused with advice.
"""

from __future__ import annotations

import dataclasses
import typing

import pytest
from htpy import Element, div, span
from markupsafe import Markup

from parlour import (
    Component,
    after,
    answer,
    answer_error,
    back,
    call,
    call_in_slot,
    dispatch_to,
    end,
    event,
    execute_script,
    history,
    io,
    patch,
    patch_signals,
    publish,
    redirect,
    replace,
    set_keyed_children,
    subscribe,
    unsubscribe,
)
from parlour.core import effects as fx
from parlour.core.component import Mount
from parlour.core.errors import EffectError


class Leaf(Component):
    n: int = 0

    def render(self) -> Element:
        return div(self.root)[self.n]

    @event
    def done(self) -> None:
        pass

    def resumed(self, value: object) -> None:
        pass


def mounted(iid: str) -> Leaf:
    leaf = Leaf()
    leaf._parlour = Mount(iid, "c", "/_p")  # pyright: ignore[reportPrivateUsage]
    return leaf


def test_call_takes_an_instance_or_a_class_and_stores_the_resume_by_name() -> None:
    owner = mounted("p4")
    effect = call(Leaf(n=1), resume=owner.resumed)
    assert effect == fx.Call(Leaf(n=1), fx.Target("p4", "resumed"))
    assert call(Leaf) == fx.Call(Leaf(), None)


def test_a_resume_method_of_an_unmounted_instance_means_the_emitter() -> None:
    assert call(Leaf(), resume=Leaf().resumed).resume == fx.Target(None, "resumed")


def test_resume_targets_must_be_methods_of_components() -> None:
    with pytest.raises(EffectError, match=r"call\(resume=\.\.\.\) needs a method of a component"):
        call(Leaf(), resume=lambda value: None)
    with pytest.raises(EffectError, match="Lambdas and plain functions cannot be stored"):
        call(Leaf(), resume=print)


def test_call_needs_a_component() -> None:
    with pytest.raises(EffectError, match=r"call\(\) needs a component instance"):
        call("Leaf")  # type: ignore[arg-type]


def test_call_in_slot_names_the_slot() -> None:
    owner = mounted("p2")
    assert call_in_slot("side", Leaf, resume=owner.resumed) == fx.CallInSlot(
        "side", Leaf(), fx.Target("p2", "resumed")
    )


def test_answer_and_answer_error() -> None:
    assert answer() == fx.Answer(None)
    assert answer({"x": 1}).value == {"x": 1}
    error = ValueError("no")
    assert answer_error(error).error is error
    with pytest.raises(EffectError, match="needs an exception"):
        answer_error("no")  # type: ignore[arg-type]


def test_replace_needs_a_component() -> None:
    assert replace(Leaf) == fx.Replace(Leaf())
    with pytest.raises(EffectError, match=r"replace\(\) needs a component"):
        replace(None)  # type: ignore[arg-type]


def test_set_keyed_children_takes_pairs_or_a_mapping_in_order() -> None:
    from_pairs = set_keyed_children("rows", [("b", Leaf(n=2)), ("a", Leaf)])
    from_map = set_keyed_children("rows", {"b": Leaf(n=2), "a": Leaf()}, rerender_parent=True)
    assert from_pairs.pairs == from_map.pairs == (("b", Leaf(n=2)), ("a", Leaf()))
    assert (from_pairs.rerender_parent, from_map.rerender_parent) == (False, True)


def test_keyed_children_need_unique_non_empty_string_keys() -> None:
    with pytest.raises(EffectError, match="got the key 'a' twice"):
        set_keyed_children("rows", [("a", Leaf()), ("a", Leaf())])
    with pytest.raises(EffectError, match="keys must be non-empty strings, got ''"):
        set_keyed_children("rows", [("", Leaf())])
    with pytest.raises(EffectError, match="keys must be non-empty strings, got 3"):
        set_keyed_children("rows", [(3, Leaf())])  # type: ignore[list-item]
    with pytest.raises(EffectError, match="needs a component instance"):
        set_keyed_children("rows", [("a", "Leaf")])  # type: ignore[list-item]


def test_patch_escapes_plain_text_and_keeps_html() -> None:
    assert patch("<b>").html == "&lt;b&gt;"
    assert patch(Markup("<b id='x'>")).html == "<b id='x'>"
    assert patch(span(id="x")["<"]).html == '<span id="x">&lt;</span>'
    assert patch("x", selector="#log", mode="append") == fx.Patch("x", "#log", "append")


def test_patch_signals_merges_a_mapping_and_keywords() -> None:
    assert patch_signals({"a-b": 1}, c=None).signals == {"a-b": 1, "c": None}
    assert patch_signals().signals == {}


def test_scripts_redirects_and_history() -> None:
    assert execute_script("x()") == fx.ExecuteScript("x()")
    assert redirect("/away") == fx.Redirect("/away")
    assert history("/u") == fx.History("/u", "push")
    assert history("/u", "replace").mode == "replace"
    with pytest.raises(EffectError, match="mode must be 'push' or 'replace', got 'jump'"):
        history("/u", "jump")  # type: ignore[arg-type]


def test_dispatch_to_needs_a_method_of_a_component() -> None:
    other = mounted("p9")
    assert dispatch_to(other.done, {"k": 1}) == fx.DispatchTo(fx.Target("p9", "done"), {"k": 1})
    with pytest.raises(EffectError, match=r"dispatch_to\(\) needs a method of a component"):
        dispatch_to(lambda: None)


def test_io_keeps_the_very_function_and_its_resume() -> None:
    def work() -> int:
        return 1

    effect = io(work, resume=mounted("p1").resumed)
    assert effect.fn is work
    assert effect.resume == fx.Target("p1", "resumed")
    with pytest.raises(EffectError, match="needs a callable"):
        io(42, resume=mounted("p1").resumed)  # type: ignore[arg-type]


def test_after_needs_a_delay_of_zero_or_more() -> None:
    assert after(2, mounted("p1").resumed, "x") == fx.After(2.0, fx.Target("p1", "resumed"), "x")
    assert after(0, mounted("p1").resumed).seconds == 0.0
    with pytest.raises(EffectError, match="0 seconds or more, got -1"):
        after(-1, mounted("p1").resumed)


def test_subscribe_unsubscribe_publish() -> None:
    assert subscribe("a.*", mounted("p1").resumed) == fx.Subscribe(
        "a.*", fx.Target("p1", "resumed")
    )
    assert unsubscribe() == fx.Unsubscribe(None)
    assert unsubscribe("a.*") == fx.Unsubscribe("a.*")
    assert publish("a.b", {"x": 1}) == fx.Publish("a.b", {"x": 1})
    with pytest.raises(EffectError, match="needs a topic pattern"):
        subscribe("", mounted("p1").resumed)
    with pytest.raises(EffectError, match="needs a topic"):
        publish("")


def test_back_and_end() -> None:
    assert back() == fx.Back()
    assert end() == fx.End(None)
    assert end("bye").value == "bye"


def test_effects_are_frozen_values() -> None:
    effect = answer(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        effect.value = 2  # type: ignore[misc]


def test_every_effect_class_is_in_the_effect_union() -> None:
    assert set(fx.EFFECT_TYPES) == set(typing.get_args(fx.Effect))
    assert len(fx.EFFECT_TYPES) == 19
