"""Built-in pipeline steps. Each module registers its step through the plugin hook, like any plugin."""
