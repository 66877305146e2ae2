"""citylab: a hands-on lab kit and virtual city for smart-city technicians."""

__version__ = "0.1.0"
