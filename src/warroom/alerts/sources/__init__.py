"""One parser per alert source, each turning a payload into normalised alerts."""
