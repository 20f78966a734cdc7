"""The guide's content-creation flow: research → strategy → writing → editing, each stage
an agent's task in a flow step.

It runs on whatever model ``PLAIT_MODEL`` names, and offline on the local SmolLM2-135M
model when nothing is set (``scripts/local_model.sh`` installs it). A 135M model writes
weak prose; what this shows is the machinery: agents with tools, tasks with
``{placeholders}`` and context, structured output, every model and tool call recorded in
the durable run, the timeline and the token usage.

The prompts are made for a small model: each task asks for one plain thing in plain
words, the strategist's plan is structured output, the writer writes one paragraph per
section of the plan (a small model asked for a whole article soon loses its way), and
the editor must check the length with its tool before it answers. What a small model
gets wrong is mended in the open, with a warning in the log: a paragraph keeps only its
new sentences, and when the editor's answer is no article, or is over the limit, the
result is the article cut to the whole sentences that fit.

    plait run examples/content.py:ContentCreationFlow --input topic="AI in healthcare"
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from pydantic import BaseModel, Field

from plait import AgentError, Flow, listen, start
from plait.agents import Agent, Task
from plait.llm import tool

WORDS_LIMIT = 150
log = logging.getLogger("plait.examples.content")


@tool
def check_length(text: str) -> str:
    """Count the words of an article and compare them with the limit.

    Args:
        text: The whole article.
    """
    words = len(text.split())
    if words > WORDS_LIMIT:
        return f"{words} words: {words - WORDS_LIMIT} over the limit of {WORDS_LIMIT}; shorten it."
    return f"{words} words: within the limit of {WORDS_LIMIT}."


class Plan(BaseModel):
    # The article's message and its three sections. The lengths bound what the JSON grammar lets a small model write: without them its
    # strings may run on until max_tokens cuts the JSON short.
    message: str = Field(max_length=200)
    sections: list[Annotated[str, Field(max_length=60)]] = Field(min_length=3, max_length=3)


class Content(BaseModel):
    topic: str = "The future of AI in healthcare"
    audience: str = "healthcare professionals"
    research: str = ""
    strategy: str = ""
    draft: str = ""
    final: str = ""


class ContentCreationFlow(Flow[Content]):
    """Four agents, one stage each; each stage's output is the next one's input."""

    def _agents(self) -> dict[str, Agent]:
        return {
            "researcher": Agent(
                "Content Researcher",
                "Collect the key facts about a topic",
                "You are a careful researcher who writes facts as short sentences.",
                max_tokens=160,
            ),
            "strategist": Agent(
                "Content Strategist",
                "Plan a short article for its audience",
                "You decide what an article says and how it is divided.",
                max_tokens=256,
            ),
            "writer": Agent(
                "Content Writer",
                "Write a short, clear article",
                "You write plain paragraphs for busy professionals.",
                max_tokens=96,  # a paragraph; one cut short is asked again with 192
            ),
            "editor": Agent(
                "Content Editor",
                f"Make the article correct and at most {WORDS_LIMIT} words",
                "You edit for clarity and check the length with your check_length tool.",
                tools=[check_length],
                tool_choice="required",  # check the length before answering
                max_tokens=320,  # the article (~200 tokens) in a JSON answer
                max_iterations=3,
                on_max_iterations="answer",
            ),
        }

    @start()
    async def research(self) -> str:
        task = Task(
            "List five key facts about {topic} that matter to {audience}, as a numbered "
            "list of short sentences.",
            agent=self._agents()["researcher"],
        )
        out = await task.execute_async(self.state.model_dump())
        self.state.research = out.raw
        return out.raw

    @listen(research)
    async def strategy(self, research: str) -> Plan:
        task = Task(
            "Plan a short article about {topic} for {audience}: its main message in one "
            "sentence, and the titles of its three sections. The facts:\n{research}",
            agent=self._agents()["strategist"],
            output_type=Plan,
        )
        out = await task.execute_async(self.state.model_dump())
        plan: Plan = out.output
        self.state.strategy = "\n".join(
            [f"Message: {plan.message}", *(f"{n}. {s}" for n, s in enumerate(plan.sections, 1))]
        )
        return plan

    @listen(strategy)
    async def write(self, plan: Plan) -> str:
        task = Task(
            "Here are some facts about {topic}:\n{research}\n\nUsing them, in two or "
            "three short sentences, write the {place} paragraph of a short article for "
            "{audience} about {section}.",
            agent=self._agents()["writer"],
        )
        plan = Plan.model_validate(plan)  # a resumed run may hand it back as plain data
        article = ""
        places = ("opening", "middle", "closing")
        # A paragraph at a time: a small model stays on track for that long.
        for place, section in zip(places, plan.sections, strict=True):
            inputs = self.state.model_dump() | {"place": place, "section": section}
            out = await task.execute_async(inputs)
            paragraph = new_sentences(first_paragraph(out.raw), article)
            article = f"{article}\n\n{paragraph}".strip()
        self.state.draft = article
        return article

    @listen(write)
    async def edit(self, draft: str) -> str:
        task = Task(
            f"Edit the article for publication: fix mistakes and keep it under {WORDS_LIMIT} "
            "words. First check its length with check_length, then answer with the whole "
            "edited article.",
            agent=self._agents()["editor"],
        )
        try:
            edited = (await task.execute_async(context=f"Article:\n{draft}")).raw
        except AgentError as exc:  # e.g. its tool call ran past max_tokens
            log.warning("the editor failed (%s); the draft stands", exc)
            edited = draft
        else:
            if len(edited.split()) < WORDS_LIMIT // 3 or len(_SENTENCE.findall(edited)) < 3:
                log.warning("the editor answered with no article (%r); the draft stands", edited)
                edited = draft
        if len(edited.split()) > WORDS_LIMIT:
            fitted = within_limit(edited)
            log.warning(
                "the edited article has %d words, over the limit of %d: kept its first %d "
                "words of whole sentences",
                len(edited.split()),
                WORDS_LIMIT,
                len(fitted.split()),
            )
            edited = fitted
        self.state.final = edited
        return edited


# A small model answers with more than it was asked for, or with less: these keep an
# article of whole sentences out of what it wrote.
_SENTENCE = re.compile(r".+?(?:[.!?](?=\s|$)|$)", re.S)
_LIST_MARK = re.compile(r"^(?:\d+[.)]|[-*#]+)\s*")


def first_paragraph(reply: str) -> str:
    """The first paragraph of a reply, past lines that introduce it ("Here is the
    paragraph:") or title it: one paragraph was asked for, and more may come."""
    lines = (_LIST_MARK.sub("", line.strip()) for line in reply.splitlines())
    return next((line for line in lines if len(line.split()) >= 12 and line[-1] != ":"), "")


def new_sentences(paragraph: str, article: str) -> str:
    """The sentences of ``paragraph`` that do not open as one of ``article`` does (with
    the same six words): each paragraph is written apart, and may say it again."""

    def opening(sentence: str) -> tuple[str, ...]:
        return tuple(re.findall(r"\w+", sentence.casefold())[:6])

    seen = {opening(sentence) for sentence in _SENTENCE.findall(article)}
    kept = (s for s in _SENTENCE.findall(paragraph) if opening(s) not in seen)
    return "".join(kept).strip()


def within_limit(text: str) -> str:
    """``text``'s whole sentences, from the start, that fit in ``WORDS_LIMIT`` words."""
    kept: list[str] = []
    for sentence in _SENTENCE.findall(text):
        if len("".join([*kept, sentence]).split()) > WORDS_LIMIT:
            break
        kept.append(sentence)
    return "".join(kept).strip()
