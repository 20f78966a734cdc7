"""L5: agents, tasks and crews — a role with a model and tools, working in a tool-calling
loop; tasks with ``{placeholder}`` inputs and context; crews run sequentially or with a
manager who delegates. Used alone or inside any flow step."""

from plait.agents._agent import Agent, AgentResult
from plait.agents._crew import Crew, CrewOutput, Task, TaskOutput, fill

__all__ = ["Agent", "AgentResult", "Crew", "CrewOutput", "Task", "TaskOutput", "fill"]
