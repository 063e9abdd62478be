"""HTTP side of the hub: app factory, middlewares, routes and pages."""
