#!/usr/bin/env bash
cat <<MSG

  Ticketing is starting (Ctrl-C stops every process):
    Start page      http://localhost:8000/              (on sale now, log in)
    Buyer pages     http://localhost:8000/events/       (search, seat maps)
    REST API        http://localhost:8000/api/v1/       (Swagger UI: /api/v1/docs/)
    Admin           http://localhost:8000/admin/
    Health          http://localhost:8000/healthz   http://localhost:8000/readyz
    Keycloak        http://localhost:8180/          (realm: ticketing)
    Mail sink       ~/.local/share/ticketing/mail/*.eml   (every email, Keycloak's too)

  Demo logins (development only):
    organizer@example.com / organizer     buyer@example.com / buyer     admin@example.com / admin
    Django-only superuser: admin / admin

MSG
