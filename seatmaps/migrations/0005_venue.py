# Venue moves from the ticketing app to seatmaps (issue 15: the model cycle SeatMap -> Venue ->
# Event -> SeatMap). Only Django's state moves: the table keeps its name (ticketing_venue), its
# rows and its foreign keys; ticketing/migrations/0004 drops the old state.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import seatmaps.models


class Migration(migrations.Migration):

    dependencies = [
        ('seatmaps', '0004_owner'),
        ('ticketing', '0003_owner'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Venue',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200)),
                        ('city', models.CharField(max_length=100)),
                        ('address', models.CharField(blank=True, max_length=300)),
                        ('time_zone', models.CharField(choices=seatmaps.models.TIME_ZONES, default='Europe/Berlin', max_length=64)),
                        ('owner', models.ForeignKey(blank=True, help_text='Empty: a shared venue, changed by admins only.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='venues', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'ticketing_venue',
                        'ordering': ['name'],
                    },
                ),
                migrations.AlterField(
                    model_name='seatmap',
                    name='venue',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='seat_maps', to='seatmaps.venue'),
                ),
            ],
            database_operations=[],
        ),
    ]
