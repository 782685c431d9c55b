"""The catalogue's HTTP API, one router per domain. Reads are public (政务公开); writes need an admin."""

from services.catalogue.routes import directories, guides, imports, items, orgs

routers = [orgs.router, items.router, directories.router, guides.router, imports.router]

__all__ = ["routers"]
