"""The demo portal: static citizen, staff and kiosk pages that call the public gateway API."""
