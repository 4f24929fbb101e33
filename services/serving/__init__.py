"""The HTTP feature server: app factory, routes, schemas, service, error mapping."""
