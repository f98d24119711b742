"""Request and response models of e_application (separate from the tables)."""
