from tests.conftest import INCIDENTS


async def test_declare_p1_creates_channel(bot):
    response = await bot.sender.command("declare P1 Site down everywhere")
    assert response.status_code == 200
    await bot.slack.wait_for("conversations.create")
    await bot.slack.wait_for("pins.add")
    await bot.slack.wait_for("bookmarks.add")
    print(bot.slack.methods())
    responses = await bot.slack.wait_for_response()
    print(responses)
    roots = [c for c in bot.slack.calls_to("chat.postMessage") if c.args["channel"] == INCIDENTS]
    assert roots
