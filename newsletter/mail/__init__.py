"""The transport: MIME, DKIM, the SMTP client and the other Django backends; imports no models."""
