# Hand-written. Dedupe keys and a message's case number are looked up by equality only (ON CONFLICT,
# `=`): PostgreSQL's second index on each, for LIKE 'prefix%', is dropped. Every notice, message and
# inbox item wrote an entry in them. Nothing changes on SQLite (see huiyin.db.without_pattern_indexes).

from django.db import migrations

from huiyin.db import without_pattern_indexes


class Migration(migrations.Migration):

    dependencies = [
        ('notify', '0008_knowledge_expired_event'),
    ]

    operations = [
        without_pattern_indexes({
            "notify_notice_dedupe_key_f3f60677_like": ("notify_notice", "dedupe_key"),
            "notify_message_dedupe_key_9af7b8a5_like": ("notify_message", "dedupe_key"),
            "notify_message_case_number_2c6c4766_like": ("notify_message", "case_number"),
            "notify_inboxitem_dedupe_key_84dd6249_like": ("notify_inboxitem", "dedupe_key"),
        }),
    ]
