"""UI only: one module per tab, each with build() that lays out the tab and wires its events."""
