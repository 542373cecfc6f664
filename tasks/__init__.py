"""ftcot's built-in tasks."""
