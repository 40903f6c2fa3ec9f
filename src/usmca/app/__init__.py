"""Interfaces over the engines: the application database, the REST API and the web pages (issue #7).

Everything here is thin: it records, authorises and serves; the legal answers come from the engines.
"""
