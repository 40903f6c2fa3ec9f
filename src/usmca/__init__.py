"""usmca: USMCA origin, US duty at any date, portfolio exposure and scenarios, with citations."""

__version__ = "0.1.0"
