"""The gateway's HTTP/1.1 client for its upstream services (see `connection`)."""
