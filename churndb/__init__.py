"""churndb: churn scoring with PostgreSQL as the system of record."""

__version__ = "0.1.0"
__all__ = ["ChurnScorer"]


def __getattr__(name: str):
    # Lazy: `import churndb` stays cheap for the CLI; the scorer pulls in the ML stack.
    if name == "ChurnScorer":
        from .api import ChurnScorer

        return ChurnScorer
    raise AttributeError(name)
