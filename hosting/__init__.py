"""Hosting the app on a Hugging Face Space: what is uploaded, and the Hub's rules checked before any upload."""
