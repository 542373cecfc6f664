"""ftcot's built-in teachers."""
