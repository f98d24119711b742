"""Request and response models of facility_booking, one module per resource."""
