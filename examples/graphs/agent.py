"""An example LangGraph agent to try `chat --graph` on: a model that may call tools, two of which ask the user.

    chat --graph examples/graphs/agent.py:graph "what is the weather in Paris?"
    cd examples && chat --graph agent            # the same graph, by its id in examples/langgraph.json

The model is OpenAI's, through langchain-openai: it reads OPENAI_API_KEY (and OPENAI_BASE_URL, for any
OpenAI-compatible server, which needs no key: a local one runs with OPENAI_BASE_URL alone, as chat does);
EXAMPLE_MODEL chooses the model. ``book_table`` asks for approval with an
interrupt in LangChain's human-in-the-loop shape (approve, edit or reject); ``ask_user`` interrupts with a
plain question, answered with a line of text.
"""

import os

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import interrupt


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"It is sunny and 21 °C in {city}."


@tool
def book_table(restaurant: str, people: int, time: str) -> str:
    """Book a table at a restaurant (the user approves, edits or refuses the booking first)."""
    asked = {"restaurant": restaurant, "people": people, "time": time}
    request = {
        "action_requests": [{"name": "book_table", "args": asked, "description": "Book this table?"}],
        "review_configs": [{"action_name": "book_table", "allowed_decisions": ["approve", "edit", "reject"]}],
    }
    decision = interrupt(request)["decisions"][0]
    if decision["type"] == "reject":
        return "Not booked. " + decision.get("message", "The user said no.")
    booked = decision["edited_action"]["args"] if decision["type"] == "edit" else asked
    return f"Booked a table for {booked['people']} at {booked['restaurant']} at {booked['time']}."


@tool
def ask_user(question: str) -> str:
    """Ask the user a question and wait for the answer."""
    return str(interrupt(question))


TOOLS = [get_weather, book_table, ask_user]
# A server of one's own (OPENAI_BASE_URL) may take no key; the client wants one all the same.
NO_KEY = "none" if os.environ.get("OPENAI_BASE_URL") and not os.environ.get("OPENAI_API_KEY") else None
model = ChatOpenAI(model=os.environ.get("EXAMPLE_MODEL", "gpt-4o-mini"), api_key=NO_KEY).bind_tools(TOOLS)


def agent(state: MessagesState) -> dict:
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition)
builder.add_edge("tools", "agent")
graph = builder.compile()
