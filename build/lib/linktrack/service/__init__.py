"""Services: sending, campaigns, the click rules, the event writer and delivery, joining
the core to the adapters (no SQL of their own)."""
