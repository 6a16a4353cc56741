"""The bare baseline: a plain Django view running the project's hold Lua script
(``shared.locks.SeatLocks.hold_seats``) with no authentication, rules, throttling or DRF."""

import json
from datetime import UTC, datetime

from django.http import JsonResponse
from django.urls import path

from shared.locks import seat_locks


def hold(request, event_id):
    body = json.loads(request.body)
    # The owner comes from the load generator, so the per-buyer ledger keys the script writes
    # spread over as many buyers as on the real path (one owner would grow one huge ledger).
    result = seat_locks().hold_seats(
        event_id, body["seats"], str(body.get("owner", "bare")), int(body["ttl_ms"])
    )
    if not result.ok:
        return JsonResponse(
            {"error": {"code": result.status, "message": "Seats taken.", "details": result.seats}},
            status=409,
        )
    expires = datetime.fromtimestamp(result.expires_ms / 1000, UTC).isoformat()
    return JsonResponse(
        {"id": result.hold_id, "seats": body["seats"], "expires_at": expires}, status=201
    )


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("bare/events/<int:event_id>/holds/", hold),
    path("healthz", healthz),
]
