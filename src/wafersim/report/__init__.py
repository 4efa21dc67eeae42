"""Report writers outside the core layers: they may plot and write HTML; nothing in the core imports them."""
