"""``voiceclone book``: whole works (EPUB, Markdown, text, HTML) as chaptered audiobooks.

- ``model``: ``Book`` and ``Chapter``, what every reader returns and every writer takes;
- readers turn a file into a ``Book`` (chapters in reading order, front and back matter marked);
- the job speaks chapters through the batch machinery (workers, rate gate, response cache) and
  writes one file with chapter marks, or one file per chapter.
"""
