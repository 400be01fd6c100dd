"""Serving attachments: always as a download, never rendered by the browser."""
from django.http import FileResponse


def download_response(attachment) -> FileResponse:
    return as_download(attachment.file.open("rb"), attachment.original_name)


def as_download(content, filename: str) -> FileResponse:
    """A file that the browser saves and never renders: a neutral type, no sniffing, a sandbox if opened."""
    response = FileResponse(content, as_attachment=True, filename=filename, content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
