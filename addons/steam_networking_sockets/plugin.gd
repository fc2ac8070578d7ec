## The addon's entry in Project Settings > Plugins. Everything steamnet does lives in the
## GDExtension, which Godot loads whether or not this plugin is enabled, so there is nothing to
## set up here.
@tool
extends EditorPlugin
