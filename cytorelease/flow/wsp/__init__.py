"""FlowJo 10 workspaces (.wsp): reading them (parse, model, convert, select, run) and writing a
gated sample's gates as one (``write.export_wsp``). Import from the modules themselves."""
