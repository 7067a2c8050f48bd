from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "newsletter"
    verbose_name = "Newsletter"

    def ready(self) -> None:
        from newsletter import matching, synonyms

        # Queries parsed anywhere in the app take the editors' synonyms in force.
        matching.use_synonym_source(synonyms.current_synonym_table)
