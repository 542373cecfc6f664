"""ftcot's built-in students."""
