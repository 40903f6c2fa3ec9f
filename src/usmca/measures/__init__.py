"""Duty measures (Chapter 99 records), the duty stack, fees and IEEPA refunds."""
