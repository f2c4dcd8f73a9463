"""Hand-off: profiles of receiving repositories, exports for them, serialised bags."""
