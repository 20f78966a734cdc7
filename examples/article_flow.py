"""The guide's ArticleWritingFlow: four listeners in sequence over a dict state.

Each step receives the previous step's output; the "crews" are stand-ins for LLM calls.

    python examples/article_flow.py
"""

from __future__ import annotations

from typing import Any

from plait import Flow, listen, start


def research_crew(topic: str) -> list[str]:
    return [f"{topic}: agents move from demos to production", f"{topic}: evaluation matters"]


def writing_crew(research: list[str]) -> str:
    return " ".join(f"{note.split(': ', 1)[1].capitalize()}." for note in research)


def review_crew(draft: str) -> str:
    return draft.replace("matters", "matters most")


class ArticleWritingFlow(Flow):
    """Research, write, review: each phase listens to the one before it."""

    @start()
    def start_research(self) -> dict[str, Any]:
        self.state["phases"] = ["research"]
        return {"topic": self.state.get("topic", "AI trends 2025"), "phase": "research"}

    @listen(start_research)
    def conduct_research(self, result: dict[str, Any]) -> dict[str, Any]:
        self.state["phases"].append("writing")
        return {"research_data": research_crew(result["topic"]), "phase": "writing"}

    @listen(conduct_research)
    def write_article(self, result: dict[str, Any]) -> dict[str, Any]:
        self.state["phases"].append("review")
        return {"article": writing_crew(result["research_data"]), "phase": "review"}

    @listen(write_article)
    def review_article(self, result: dict[str, Any]) -> dict[str, Any]:
        self.state["phases"].append("completed")
        return {"final_article": review_crew(result["article"]), "phase": "completed"}


if __name__ == "__main__":
    flow = ArticleWritingFlow()
    final = flow.kickoff()
    print("phases:", " -> ".join(flow.state["phases"]))
    print("final article:", final["final_article"])
