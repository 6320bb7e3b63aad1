-- Threads mode: a button whose tickets are private threads of a channel instead of channels.
-- NULL: tickets are channels (in the button's category); else the channel whose private
-- threads they are.
ALTER TABLE buttons ADD COLUMN thread_channel_id INTEGER;
-- The channel a ticket's private thread lives in (NULL: the ticket is a channel). Written with
-- the reservation, so a crashed open knows where to look for its thread.
ALTER TABLE tickets ADD COLUMN thread_parent_id INTEGER;
