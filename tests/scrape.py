"""Reading a Prometheus scrape in tests, by metric sample name and labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    """The samples of one ``GET /metrics`` answer."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        """Parse the text exposition format."""
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        """Return the sample *name* with exactly *labels*; KeyError if absent."""
        return self.samples[(name, frozenset(labels.items()))]

    def has(self, name: str, **labels: str) -> bool:
        """Whether a sample *name* with exactly *labels* exists."""
        return (name, frozenset(labels.items())) in self.samples

    def label_values(self, name: str, label: str) -> set[str]:
        """Return every value *label* takes among the samples called *name*."""
        return {
            dict(labels)[label]
            for sample, labels in self.samples
            if sample == name and label in dict(labels)
        }
