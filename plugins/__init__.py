"""ftcot's built-in filters and reporters (the smaller plugin kinds)."""
