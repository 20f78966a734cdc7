"""The guide's content-creation flow: research → strategy → writing → editing, each stage
an agent's task in a flow step.

It runs on whatever model ``PLAIT_MODEL`` names, and offline on the local SmolLM2-135M
model when nothing is set (``scripts/local_model.sh`` installs it). A 135M model writes
weak prose; what this shows is the machinery: agents with tools, tasks with
``{placeholders}`` and context, every model and tool call recorded in the durable run,
the timeline and the token usage.

    plait run examples/content.py:ContentCreationFlow --input topic="AI in healthcare"
"""

from __future__ import annotations

from pydantic import BaseModel

from plait import Flow, listen, start
from plait.agents import Agent, Task
from plait.llm import tool

WORDS_LIMIT = 120


@tool
def word_count(text: str) -> int:
    """Count the words of a text.

    Args:
        text: The text to count.
    """
    return len(text.split())


class Content(BaseModel):
    topic: str = "The future of AI in healthcare"
    audience: str = "healthcare professionals"
    research: str = ""
    strategy: str = ""
    draft: str = ""
    final: str = ""


class ContentCreationFlow(Flow[Content]):
    """Four agents, one stage each; each stage's output is the next one's context."""

    def _agents(self) -> dict[str, Agent]:
        tokens = 160
        return {
            "researcher": Agent(
                "Content Researcher",
                "Collect the key facts about a topic",
                "You are a careful researcher who lists facts briefly.",
                max_tokens=tokens,
            ),
            "strategist": Agent(
                "Content Strategist",
                "Plan a short article for its audience",
                "You turn research into a clear plan: audience, message, outline.",
                max_tokens=tokens,
            ),
            "writer": Agent(
                "Content Writer",
                "Write a short, clear article",
                "You write plainly for busy professionals.",
                max_tokens=tokens,
            ),
            "editor": Agent(
                "Content Editor",
                f"Make the article correct and at most {WORDS_LIMIT} words",
                "You edit for clarity and check the length with your word_count tool.",
                tools=[word_count],
                max_tokens=tokens,
                max_iterations=3,
                on_max_iterations="answer",
            ),
        }

    @start()
    async def research(self) -> str:
        task = Task(
            "List five key facts about {topic} that matter to {audience}.",
            "Five short bullet points",
            self._agents()["researcher"],
        )
        out = await task.execute_async(self.state.model_dump())
        self.state.research = out.raw
        return out.raw

    @listen(research)
    async def strategy(self, research: str) -> str:
        task = Task(
            "Plan a short article about {topic} for {audience}: the main message and "
            "three section titles.",
            "A main message and three section titles",
            self._agents()["strategist"],
        )
        out = await task.execute_async(self.state.model_dump(), context=research)
        self.state.strategy = out.raw
        return out.raw

    @listen(strategy)
    async def write(self, strategy: str) -> str:
        task = Task(
            "Write the article about {topic} for {audience}, following the plan.",
            "A short article",
            self._agents()["writer"],
        )
        context = f"Plan:\n{strategy}\n\nResearch:\n{self.state.research}"
        out = await task.execute_async(self.state.model_dump(), context=context)
        self.state.draft = out.raw
        return out.raw

    @listen(write)
    async def edit(self, draft: str) -> str:
        task = Task(
            f"Edit the article below for publication and keep it under {WORDS_LIMIT} "
            "words. Reply with the whole edited article.",
            "The whole edited article",
            self._agents()["editor"],
        )
        out = await task.execute_async(context=f"Article:\n{draft}")
        # A 135M model sometimes answers with a stub; then the writer's draft stands.
        edited = out.raw if len(out.raw.split()) >= 30 else draft
        self.state.final = edited
        return edited
