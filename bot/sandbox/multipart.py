"""`multipart/form-data` bodies as Discord takes them: `payload_json` and `files[n]` parts."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """The parts of a form body, in order (read from bytes, so the body can be read twice)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    parts = []
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return []
    for part in message.iter_parts():
        if not isinstance(part, EmailMessage):
            continue
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        parts.append(
            Part(
                name=name if isinstance(name, str) else "",
                filename=part.get_filename(),
                content_type=part.get_content_type(),
                data=data if isinstance(data, bytes) else b"",
            )
        )
    return parts
