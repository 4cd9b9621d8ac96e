"""parlour: durable, server-driven, real-time web apps on Datastar."""
