"""Reading items' article pages: which pages to read, reading them politely, and extracting
their text (trafilatura) in the page's own encoding."""
