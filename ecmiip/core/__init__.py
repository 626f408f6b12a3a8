"""What every part of ec-miip shares: the legal system prompt, the statute database, paths, errors."""
