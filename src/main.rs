fn main() {
    todo!()
}
