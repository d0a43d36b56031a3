"""Every module here is scanned by the registry; each BaseTool subclass becomes a platform tool."""
