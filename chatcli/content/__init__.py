"""What a question carries besides its text: files and images, web pages read as text."""
