"""Request body parsers of the API: DRF's, bounded in size and nesting depth."""

import io

import orjson
from django.conf import settings
from rest_framework import exceptions, parsers


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def read_bounded(stream) -> bytes:
    """The whole body, or RequestTooLarge past DATA_UPLOAD_MAX_MEMORY_SIZE.

    DRF hands its parsers the raw stream, so Django's own size check never runs for JSON.
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(body) > limit:
        raise RequestTooLarge()
    return body


class JSONParser(parsers.JSONParser):
    """orjson: several times faster than json on the hot path, strict (UTF-8, no NaN), and it
    refuses nesting past 1,024 levels instead of exhausting the stack like json does."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(read_bounded(stream))
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return super().parse(io.BytesIO(read_bounded(stream)), media_type, parser_context)
