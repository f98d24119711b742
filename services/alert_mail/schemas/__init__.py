"""Request and response models of alert_mail, one module per area."""
