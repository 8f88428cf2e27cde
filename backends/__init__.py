"""Everything that talks to a model: clients, server supervision, engines, presets."""
