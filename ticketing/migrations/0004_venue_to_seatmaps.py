# Venue now lives in seatmaps (seatmaps/migrations/0005_venue): drop it from this app's state,
# keep the table, and move its content type so permissions and admin history follow it.

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor, from_app='ticketing', to_app='seatmaps'):
    content_type = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    if not content_type.objects.using(db).filter(app_label=to_app, model='venue').exists():
        content_type.objects.using(db).filter(app_label=from_app, model='venue').update(
            app_label=to_app
        )


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, from_app='seatmaps', to_app='ticketing')


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('seatmaps', '0005_venue'),
        ('ticketing', '0003_owner'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='event',
                    name='venue',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='seatmaps.venue'),
                ),
                migrations.DeleteModel(name='Venue'),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
