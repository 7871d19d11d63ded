"""Port protocols and the plain value types that cross them. No I/O lives here."""
